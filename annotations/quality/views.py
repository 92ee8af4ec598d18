"""Pages of the quality area: none yet; the flags show in the label-error queue and its editor."""
