"""Lambda entry points (composition roots). Nothing imports these."""
