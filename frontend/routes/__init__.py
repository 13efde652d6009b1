"""The frontend's pages and sockets, one module per feature."""
