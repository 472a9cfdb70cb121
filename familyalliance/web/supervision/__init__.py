"""The alliance profile for reflection and supervision (metrics.md section 11), with its notes."""
