"""Graph nodes: small async functions that read state, call a member, return an update.

No node touches llama.cpp, SQLite or files; members arrive through the LangGraph context.
"""
