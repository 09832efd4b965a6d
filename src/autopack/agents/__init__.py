"""The model roles' prompts and the reading of their answers (Builder, Auditor, Doctor, Planner)."""
