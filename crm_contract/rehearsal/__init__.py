"""`crm-contract rehearse`: the bulk sync of the API page, rehearsed against a target and checked."""
