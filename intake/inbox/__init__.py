"""The inbox: the folder watcher, the one door files come in by, their sidecars and zips, and done/."""
