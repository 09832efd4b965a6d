"""Tests on the real control plane: kubectl, Helm and the operator as a user's cluster sees them."""
