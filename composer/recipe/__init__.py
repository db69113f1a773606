"""Recipes: YAML documents (yamldoc) checked (schema, conform), merged (merge) and
loaded as typed values (loader, model). The loader's names are the package's."""

from composer.recipe.loader import LoadedRecipe, Recipe, load_recipe, parse_assignment

__all__ = ["LoadedRecipe", "Recipe", "load_recipe", "parse_assignment"]
