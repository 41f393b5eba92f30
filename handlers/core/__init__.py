"""The shared vocabulary every layer speaks: the neutral message model (`messages`), what a
handler gets (`context`), clocks, catalogs (`i18n`), ids, roles and typed button actions.

It sits at the bottom of the import graph, just above `storage`: channels, the engine,
flows and use-cases import it; it imports none of them.
"""
