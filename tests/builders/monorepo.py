"""A real multi-package repository on disk (git-initialised) for planning tests."""

import subprocess
from pathlib import Path

FILES = {
    "README.md": "# Shop\n",
    ".gitignore": "node_modules/\nbuild/\n*.log\n",
    "pyproject.toml": "[project]\nname = 'shop'\n",
    "services/auth/auth/__init__.py": "",
    "services/auth/auth/tokens.py": "def issue(user):\n    return user\n",
    "services/auth/auth/login.py": "def login(user, password):\n    return True\n",
    "services/auth/tests/test_tokens.py": "def test_issue():\n    assert True\n",
    "services/billing/billing/__init__.py": "",
    "services/billing/billing/invoices.py": "def total(lines):\n    return sum(lines)\n",
    "services/billing/billing/payments.py": "def pay():\n    pass\n",
    "services/billing/tests/test_invoices.py": "def test_total():\n    assert True\n",
    "web/src/components/LoginForm.tsx": "export const LoginForm = () => null;\n",
    "web/src/components/Cart.tsx": "export const Cart = () => null;\n",
    "web/package.json": '{"name": "web"}\n',
    "docs/index.md": "# Docs\n",
    "docs/api.md": "# API\n",
    "web/node_modules/left-pad/index.js": "module.exports = 1;\n",
    "build/output.log": "ignored\n",
}


def make_monorepo(root: Path) -> Path:
    """Write the shop monorepo under ``root`` and commit it; return ``root``."""
    for name, content in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    env_args = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), *env_args, "commit", "-q", "-m", "initial"], check=True)
    return root
