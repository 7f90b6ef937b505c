"""What a transcript line means, pure and without I/O: the words the agents
write and zergd reads, kept in one place for the parser (zergd.index.parse),
the document export and the Timeline (held to it by tests/test_vocabulary.py)."""
