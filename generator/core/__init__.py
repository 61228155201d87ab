"""Building blocks every stack shares: parameters, naming, tags, exports, suppressions."""
