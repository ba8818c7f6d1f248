#!/usr/bin/env python3
"""Stage 3: accuracy and AUC of the model on the held-out customers."""
import csv
import json
import math
import os
import random
import sys

model_path, src, metrics = sys.argv[1], sys.argv[2], sys.argv[3]
model = json.load(open(model_path))
PLANS = ["free", "basic", "pro", "enterprise"]


def features(row):
    return [1.0, float(row["tenure_months"]) / 120, float(row["support_tickets"]) / 12, math.log1p(float(row["monthly_spend"])) / 8,
            float(row["age"]) / 100] + [1.0 if row["plan"] == plan else 0.0 for plan in PLANS]


with open(src, newline="") as f:
    rows = list(csv.DictReader(f))
random.Random(42).shuffle(rows)
holdout = rows[int(len(rows) * 0.8):]
scored = []
for r in holdout:
    z = sum(a * b for a, b in zip(model["weights"], features(r)))
    scored.append((1 / (1 + math.exp(-max(-30, min(30, z)))), int(r["churned"])))
accuracy = sum((s >= 0.5) == bool(y) for s, y in scored) / len(scored)
# AUC by the rank-sum formula
scored.sort()
pos = sum(y for _, y in scored)
neg = len(scored) - pos
rank_sum = sum(i + 1 for i, (_, y) in enumerate(scored) if y)
auc = (rank_sum - pos * (pos + 1) / 2) / (pos * neg) if pos and neg else 0.5
os.makedirs(os.path.dirname(metrics), exist_ok=True)
with open(metrics, "w") as f:
    json.dump({"accuracy": round(accuracy, 4), "auc": round(auc, 4), "holdout_rows": len(scored)}, f, indent=2)
print(f"evaluate: accuracy {accuracy:.3f}, AUC {auc:.3f}")
