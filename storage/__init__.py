"""The shared store: SQLModel tables, repositories, migrations and the outbox."""
