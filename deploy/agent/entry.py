"""The one-file agent's entry point (PyInstaller runs this script; it is the ``xiaoneng-agent`` CLI)."""

from agent.cli import main

if __name__ == "__main__":
    main()
