"""`make bench`: benchmarks against PostgreSQL, written to docs/PERFORMANCE.md.

The measurements are added by the roll-up and reporting work (see the issues);
until then this prints what is measured and where the results go.
"""

print("No benchmarks are defined yet; results will be written to docs/PERFORMANCE.md.")
