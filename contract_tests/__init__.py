"""The Zeeg CRM contract suite: property-based tests of the record assert (upsert) endpoint.

Run it with ``crm-contract run`` or ``pytest --pyargs contract_tests -p crm_contract.pytest_plugin``.
The suite is black-box: it talks HTTP to a target and never imports the reference server.
"""

__all__: list[str] = []
