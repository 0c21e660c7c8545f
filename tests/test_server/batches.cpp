// Placeholder: filled in by the batch work (issue 12).
