"""What stages hand off: data sources, figures, LiteRT inference, memory budgets."""
