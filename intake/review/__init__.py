"""Review actions on recorded submissions: decide, edit, recheck, attach, fix, scores, blind review."""
