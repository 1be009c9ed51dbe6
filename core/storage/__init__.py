"""Storage: the database, its migrations, the import records and their status machine, and every SQL
statement of the import path (staging, merge, review, undo, history, campaigns). Never checks roles."""
