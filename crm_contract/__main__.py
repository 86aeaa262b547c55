"""``python -m crm_contract``: the ``crm-contract`` command."""

import sys

from crm_contract.commands import main

sys.exit(main())
