"""The QEMU runner of `compose boot`: command line, TFTP root, console."""
