"""The screening desk in the browser (``intake serve``): accounts, the list, the entry page with its player,
and the reviewers' actions, on one office PC or a small office network, without any internet."""
