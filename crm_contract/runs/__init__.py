"""Launching the contract suite: the one function that runs it (`runner`), and what is built on it:
`compare` (the same seeded run against several targets), `zoo` (the kill matrix) and `replay` (one
recorded failure against any target). No click here: the commands in `crm_contract.commands` call these.
"""
