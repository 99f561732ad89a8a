"""Benchmarks of the product on localcloud (`make bench`, `python -m bench`): figures as ratios measured in one run.

Each figure starts its own localcloud stack and drives the app over the wire, as the end-to-end tests do:

    e2e_vs_critical_path   bench.e2e            first PUT to first passing Redis test, over the critical path
                                                (bench.critical_path, from the stand-ins' latency constants)
    idempotent_put_writes  bench.idempotence    ARM writes of a repeated identical PUT
    approval_latency_s     bench.approval       Pending to Approved, Event Grid's Pending event on and off
    monitor_scale          bench.monitor_scale  one monitor run over 50, 200 and 1000 settled links (bench.fleet)
    cold_start_ratio       bench.cold_start     fresh host to first answer, the app over bench.hello_app

Progress lines go to stdout as the benchmarks run; the last line is one JSON document with every figure.
The README's "Performance" section holds the latest figures and what each means.
"""
