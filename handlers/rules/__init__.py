"""Domain rules as plain functions over data: no database, no clock of their own."""
