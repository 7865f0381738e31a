"""The online store: keys, value codec, connections, the loader (materialize) and the store that serves."""
