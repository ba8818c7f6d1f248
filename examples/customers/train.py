#!/usr/bin/env python3
"""Stage 2: logistic regression by gradient descent, standard library only.

Reads its hyper-parameters from params.yaml (train.epochs, train.lr,
train.holdout), logs loss and accuracy after every epoch to the JSON-lines
file dvx names in DVX_METRICS (so dvx can draw the curve), and writes the
model as JSON.
"""
import csv
import json
import math
import os
import random
import sys
import time

src, model_path = sys.argv[1], sys.argv[2]


def params():
    # A tiny reader for the flat two-level params.yaml of this example.
    out, section = {}, None
    with open("params.yaml") as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, _, value = line.strip().partition(":")
            if not line.startswith(" "):
                section = key
                continue
            out[f"{section}.{key}"] = float(value) if "." in value else int(value)
    return out


p = params()
epochs, lr, holdout = int(p["train.epochs"]), float(p["train.lr"]), float(p["train.holdout"])
PLANS = ["free", "basic", "pro", "enterprise"]


def features(row):
    return [1.0, float(row["tenure_months"]) / 120, float(row["support_tickets"]) / 12, math.log1p(float(row["monthly_spend"])) / 8,
            float(row["age"]) / 100] + [1.0 if row["plan"] == plan else 0.0 for plan in PLANS]


with open(src, newline="") as f:
    rows = list(csv.DictReader(f))
random.Random(42).shuffle(rows)
cut = int(len(rows) * (1 - holdout))
train = [(features(r), int(r["churned"])) for r in rows[:cut]]
w = [0.0] * len(train[0][0])
metrics_path = os.environ.get("DVX_METRICS")
log = open(metrics_path, "a") if metrics_path else None


def predict(x):
    z = sum(a * b for a, b in zip(w, x))
    return 1 / (1 + math.exp(-max(-30, min(30, z))))


for epoch in range(1, epochs + 1):
    grad = [0.0] * len(w)
    loss = correct = 0
    for x, y in train:
        pr = predict(x)
        loss -= y * math.log(pr + 1e-12) + (1 - y) * math.log(1 - pr + 1e-12)
        correct += (pr >= 0.5) == bool(y)
        for i, xi in enumerate(x):
            grad[i] += (pr - y) * xi
    w = [wi - lr * g / len(train) for wi, g in zip(w, grad)]
    if log:
        log.write(json.dumps({"step": epoch, "loss": loss / len(train), "train_accuracy": correct / len(train), "time": time.time()}) + "\n")
        log.flush()

os.makedirs(os.path.dirname(model_path), exist_ok=True)
with open(model_path, "w") as f:
    json.dump({"kind": "logistic-regression", "features": ["bias", "tenure", "tickets", "log_spend", "age"] + [f"plan_{x}" for x in PLANS], "weights": w, "epochs": epochs, "lr": lr}, f, indent=2)
print(f"train: {epochs} epochs, final loss {loss / len(train):.4f}")
