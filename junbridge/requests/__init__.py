"""The life of a request: what a department's outcome makes of it (outcomes), its timers
(scheduler), and the promises measured in business hours, with its Open311 view
(lifecycle).
"""
