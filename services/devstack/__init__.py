"""``gaap-devstack``: the whole platform on one machine, as ``make run`` starts it."""
