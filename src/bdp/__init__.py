"""bdp: a big data platform in one package.

Collect event and log data, queue it on a bus, land it in a date-partitioned lake
exactly once, transform it daily into analysis and training tables, load them into a
warehouse, and report on the result. Every component has an embedded default and a
distributed backend behind the same interface; configuration alone chooses.
"""

__version__ = "0.1.0"
