"""The indexing side's own Haystack components: converters, furniture, dates, tables, chunks, writing."""
