"""The local stack: template.yaml's functions, queues, tables, routes and schedules run
on one machine with nothing but Python (``python -m tether_dev dev``). Never in Lambda."""
