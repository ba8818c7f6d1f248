#!/usr/bin/env python3
"""Stage 1: keep the rows that make sense; report how many were dropped."""
import csv
import json
import os
import sys

src, dst, metrics = sys.argv[1], sys.argv[2], sys.argv[3]
kept, dropped = [], 0
with open(src, newline="") as f:
    reader = csv.DictReader(f)
    header = reader.fieldnames
    for row in reader:
        ok = row["email"] and 16 <= int(row["age"]) <= 110 and float(row["monthly_spend"]) >= 0
        if ok:
            kept.append(row)
        else:
            dropped += 1
os.makedirs(os.path.dirname(dst), exist_ok=True)
with open(dst, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=header)
    w.writeheader()
    w.writerows(kept)
os.makedirs(os.path.dirname(metrics), exist_ok=True)
with open(metrics, "w") as f:
    json.dump({"rows_in": len(kept) + dropped, "rows_valid": len(kept), "rows_dropped": dropped}, f, indent=2)
print(f"validate: kept {len(kept)} rows, dropped {dropped}")
