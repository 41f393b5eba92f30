"""Use-cases of the front desk: short functions over the store and the domain rules.

Nothing here imports a chat library; replies are neutral `Reply` values.
"""
