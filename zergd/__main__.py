from .cli import zergd

zergd()
