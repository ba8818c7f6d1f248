#!/usr/bin/env python3
"""Generate the raw customer table of the example (seeded, reproducible).

    python3 generate.py data/raw/customers.csv --rows 20000 --seed 1 --version 1

Version 2 of the same seed keeps the rows of version 1 but edits 0.05 % of them
(at random positions) and appends 5 % new customers: what a weekly export of a
CRM looks like. (Editing 1 % of the rows would touch every 16 KiB chunk of
the file, and nothing could be deduplicated, by dvx or anything else.)
Some rows are deliberately invalid (missing email, impossible age) so the
validation stage has something to do.
"""
import argparse
import csv
import math
import os
import random

COUNTRIES = ["DE", "FR", "NL", "PL", "ES", "IT", "SE", "GB"]
PLANS = ["free", "basic", "pro", "enterprise"]


def customer(rng, cid):
    age = rng.randint(18, 80)
    tenure = rng.randint(0, 120)
    plan = rng.choice(PLANS)
    spend = round(rng.lognormvariate(3.5, 0.8), 2)
    tickets = rng.randint(0, 12)
    # Churn depends on the features, so a model has something to learn.
    z = 1.2 - 0.035 * tenure + 0.25 * tickets - 0.01 * spend + (0.8 if plan == "free" else -0.3 if plan == "enterprise" else 0)
    churned = 1 if rng.random() < 1 / (1 + math.exp(-z)) else 0
    email = f"user{cid}@example.com"
    if rng.random() < 0.01:
        email = ""
    if rng.random() < 0.005:
        age = rng.choice([-1, 0, 150])
    return [cid, email, age, rng.choice(COUNTRIES), plan, tenure, spend, tickets, churned]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--version", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    rows = [customer(rng, i) for i in range(1, args.rows + 1)]
    for v in range(2, args.version + 1):
        edit = random.Random(args.seed * 1000 + v)
        for _ in range(len(rows) // 2000):
            i = edit.randrange(len(rows))
            rows[i] = customer(edit, rows[i][0])
        start = len(rows) + 1
        rows += [customer(edit, cid) for cid in range(start, start + len(rows) // 20)]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "email", "age", "country", "plan", "tenure_months", "monthly_spend", "support_tickets", "churned"])
        w.writerows(rows)
    print(f"wrote {len(rows)} customers to {args.out}")


if __name__ == "__main__":
    main()
