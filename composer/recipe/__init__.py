"""Recipes: YAML documents (yamldoc) checked against the schema generated from the models
(schema, model), merged (merge) and loaded into the models (loader). The loader's names
are the package's."""

from composer.recipe.loader import LoadedRecipe, Recipe, load_recipe, parse_assignment

__all__ = ["LoadedRecipe", "Recipe", "load_recipe", "parse_assignment"]
