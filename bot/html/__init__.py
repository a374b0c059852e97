"""Drawing the preview and status pages, self-contained HTML, from values it is given."""
