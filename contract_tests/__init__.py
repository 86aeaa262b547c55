"""The Zeeg CRM contract suite: property-based tests of the record assert (upsert) endpoint.

Run it with ``crm-contract run`` or ``pytest --pyargs crm_contract.contract_tests`` (installed, this folder is
``crm_contract.contract_tests``; the plugin comes from the package's ``pytest11`` entry point).
The suite is black-box: it talks HTTP to a target and never imports the reference server.
"""

__all__: list[str] = []
