"""Builds the PV replay data for the detection evaluation; run through ./scripts/pvdata.

Usage: pvdata.py DIR VERSION. Reads the wheels in DIR/wheels (downloaded by scripts/pvdata),
extracts the four source files (and the two licence texts) into DIR/src, and writes
DIR/out/<plant>.csv and DIR/out/manifest.json (into a temporary directory first, then renamed,
so an interrupted run never leaves a manifest behind).

Per-source notes (found by inspecting the data; see also the header of scripts/pvdata):

* serf_east_15min_ac_power.csv (pvanalytics): NREL SERF East = PVDAQ system 50, 39.742 N
  105.1727 W, 6 kW DC, tilt 45, azimuth 158. Column ac_power in W, 15-minute values
  2016-07-01..2016-10-13, stamped with a fixed -07:00 offset that is true MST (no DST), no NaN,
  night values about -2.8 W (inverter standby; clamped to 0).
* system_50_ac_power_2_full_DST.parquet (pvanalytics): the same PVDAQ system 50, metadata position
  39.7406 N 105.1775 W, column ac_power_2 in W, 15-minute values 2011-04-15..2013-12-31 with NaN
  gaps. The stamps carry a -07:00 label but are the local America/Denver wall clock *with* DST
  (the daily production profile jumps by an hour at every DST change), so the label is dropped and
  the wall-clock time is localised in America/Denver before converting to UTC. Peak power is not
  published for this channel: its maximum over the whole file is 3368 W, times 1.1 rounded to
  100 W gives 3700 W.
* TAEFC1044741.csv, ZT162185000441C1203.csv (solar-data-tools): columns site, meas_name, ts,
  sensor, meas_val_f; each holds a single series (meas_name ac_power, one inverter sensor:
  SMA SB7000TL-US and ABB TRIO-27.6 respectively), so no sensor selection is needed (the loader
  insists on exactly one). ts is naive UTC on the 5-minute grid, meas_val_f is kW, only daytime
  rows exist (nights are absent, not zero). TAEFC has three -1e6 placeholders, which are dropped.
  Positions are unknown; the UTC timing of production fits US Pacific time (solar noon ~20:00 UTC).
  Nominal AC ratings are 7000 W and 27600 W, but the measured maxima exceed them
  (7.032 kW, 30.066 kW), so peak = max * 1.1 rounded to 100 W.

Interval labels. All values are taken as average power over the interval *starting* at the
stamp. For the two 15-minute series this was checked against a clear-sky model (pvlib, Ineichen
and Perez, tilt 45 / azimuth 158): on the clearest July/August days the midpoint between the
first and last stamp above a low threshold (1-20 W, where the model shows no orientation-induced
asymmetry) sits 7-9 minutes before solar noon for system 50 (2011-2013), as start-labelled 15-minute
means predict (end-labelled would put it 7.5 minutes after), and 0-4 minutes before solar noon for
SERF East 2016, where a least-squares fit of whole clear-day shapes is also best at "start". The
evidence for SERF East is weaker (it sits between start and centred), so its timing is uncertain
by up to 7.5 minutes. For the 5-minute series the convention cannot be checked without a position;
the ambiguity is at most 2.5 minutes.
"""

import hashlib
import json
import os
import shutil
import sys
import zipfile

import numpy as np
import pandas as pd

WINDOW_START = pd.Timestamp("2026-06-20T00:00:00Z")
WINDOW_DAYS = 30
WINDOW_END = WINDOW_START + pd.Timedelta(days=WINDOW_DAYS)
SLOT = 300  # seconds
DAY = 86400
TARGET_MONTH_DAY = (WINDOW_START.month, WINDOW_START.day)

WHEELS = {
    "pvanalytics": {
        "wheel": "pvanalytics-0.2.2-py3-none-any.whl",
        "license": "MIT",
        "license_member": "pvanalytics-0.2.2.dist-info/LICENSE",
        "files": {
            "pvanalytics/data/serf_east_15min_ac_power.csv":
                "b7e28c4a1004fd4a3fdb838241f178e6cbe10dc4a9d4ea054a076dd503836bee",
            "pvanalytics/data/system_50_ac_power_2_full_DST.parquet":
                "1917859b42ec3c897695eab9875ab0e91d54f61a1dc02354fb0d02775a8d0d49",
        },
    },
    "solar-data-tools": {
        "wheel": "solar_data_tools-2.1.5-py3-none-any.whl",
        "license": "BSD-2-Clause",
        "license_member": "solar_data_tools-2.1.5.dist-info/licenses/LICENSE",
        "files": {
            "sdt_dask/examples/example_data/TAEFC1044741.csv":
                "fdcb02801b360ff9dc02146b24558d850e9ee833a342792b11fa83bbeb04dc1f",
            "sdt_dask/examples/example_data/ZT162185000441C1203.csv":
                "5dc735dfe86edb2e3e91071950805ff37d5d8a43d0c7bb83a4f65e69a1ddd4c6",
        },
    },
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def extract(dir_):
    """Extracts the source files into DIR/src (flat, by base name); returns {member: path}."""
    src = os.path.join(dir_, "src")
    os.makedirs(src, exist_ok=True)
    paths = {}
    for package, info in WHEELS.items():
        wheel = os.path.join(dir_, "wheels", info["wheel"])
        todo = [m for m, digest in info["files"].items()
                if not (os.path.exists(os.path.join(src, os.path.basename(m)))
                        and sha256(os.path.join(src, os.path.basename(m))) == digest)]
        licence = os.path.join(src, f"{package}-LICENSE")
        if todo or not os.path.exists(licence):
            with zipfile.ZipFile(wheel) as z:
                for member in todo:
                    target = os.path.join(src, os.path.basename(member))
                    with z.open(member) as fin, open(target + ".part", "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                    os.replace(target + ".part", target)
                with open(licence, "wb") as fout:
                    fout.write(z.read(info["license_member"]))
        for member, digest in info["files"].items():
            path = os.path.join(src, os.path.basename(member))
            if sha256(path) != digest:
                sys.exit(f"scripts/pvdata: {member} from {info['wheel']} has an unexpected sha256")
            paths[member] = path
    return paths


def epoch_seconds(index):
    """Unix seconds of a tz-aware DatetimeIndex, whatever its resolution."""
    return np.asarray((index - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1),
                      dtype=np.int64)


# --- loaders: each returns (power in W as float64 array, interval-start Unix seconds, step) ----

def load_serf(path):
    df = pd.read_csv(path)
    t = pd.DatetimeIndex(pd.to_datetime(df["measured_on"], utc=True))  # "-07:00" is true MST
    return df["ac_power"].to_numpy(dtype=np.float64), epoch_seconds(t), 900


def load_system50(path):
    df = pd.read_parquet(path)
    wall = pd.DatetimeIndex(df["measured_on"]).tz_localize(None)  # drop the misleading -07:00
    local = wall.tz_localize("America/Denver", ambiguous="NaT", nonexistent="NaT")
    keep = ~local.isna()
    t = local[keep].tz_convert("UTC")
    return df["ac_power_2"].to_numpy(dtype=np.float64)[keep], epoch_seconds(t), 900


def load_sdt(path):
    df = pd.read_csv(path)
    df = df[df["meas_name"] == "ac_power"]
    sensors = df["sensor"].unique()
    if len(sensors) != 1:
        sys.exit(f"scripts/pvdata: {path}: expected one ac_power sensor, found {list(sensors)}")
    df = df[df["meas_val_f"] > -1e5]  # -1e6 kW placeholders
    t = pd.DatetimeIndex(pd.to_datetime(df["ts"], utc=True))  # naive UTC
    return df["meas_val_f"].to_numpy(dtype=np.float64) * 1000.0, epoch_seconds(t), 300


PLANTS = [
    dict(name="serf_east_2016", package="pvanalytics",
         member="pvanalytics/data/serf_east_15min_ac_power.csv", load=load_serf,
         describe="NREL SERF East (PVDAQ system 50), column ac_power, 15 min, W",
         time_zone="America/Denver", latitude=39.742, longitude=-105.1727,
         peak_power_w=6000, years=None),
] + [
    dict(name=f"system50_{year}", package="pvanalytics",
         member="pvanalytics/data/system_50_ac_power_2_full_DST.parquet", load=load_system50,
         describe="NREL PVDAQ system 50, column ac_power_2, 15 min, W, local clock with DST",
         time_zone="America/Denver", latitude=39.7406, longitude=-105.1775,
         peak_power_w="max*1.1", years=[year])
    for year in (2011, 2012, 2013)
] + [
    dict(name="taefc_2016", package="solar-data-tools",
         member="sdt_dask/examples/example_data/TAEFC1044741.csv", load=load_sdt,
         describe="site TAEFC1044741, SMA SB7000TL-US inverter, ac_power, 5 min, kW",
         time_zone="America/Los_Angeles", latitude=None, longitude=None,
         peak_power_w=7000, years=[2016]),
    dict(name="zt_2019", package="solar-data-tools",
         member="sdt_dask/examples/example_data/ZT162185000441C1203.csv", load=load_sdt,
         describe="site ZT162185000441C1203, ABB TRIO-27.6 inverter, ac_power, 5 min, kW",
         time_zone="America/Los_Angeles", latitude=None, longitude=None,
         peak_power_w=27600, years=None),
]


def choose_window(t, step, years):
    """Start (Unix seconds, a UTC midnight) of the 30-day source window: fully inside the span of
    the source, starting on a calendar date as close as possible to the target's (20 June);
    ties go to the earlier window."""
    first, last_end = int(t.min()), int(t.max()) + step
    d = -(-first // DAY) * DAY
    best = None
    while d + WINDOW_DAYS * DAY <= last_end:
        day = pd.Timestamp(d, unit="s")
        if years is None or day.year in years:
            dist = min(abs((day - pd.Timestamp(year=y, month=TARGET_MONTH_DAY[0],
                                               day=TARGET_MONTH_DAY[1])).days)
                       for y in (day.year - 1, day.year, day.year + 1))
            if best is None or dist < best[0]:
                best = (dist, d)
        d += DAY
    if best is None:
        sys.exit("scripts/pvdata: no 30-day window fits the source")
    return best[1]


def iso(seconds):
    return pd.Timestamp(int(seconds), unit="s").strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt(wh):
    s = f"{wh:.3f}".rstrip("0").rstrip(".")
    return s if s else "0"


def build(plant, path, licence, tmp):
    power, t, step = plant["load"](path)
    finite = np.isfinite(power)
    power, t = power[finite], t[finite]
    order = np.argsort(t, kind="stable")
    power, t = power[order], t[order]
    if np.any(np.diff(t) == 0):
        sys.exit(f"scripts/pvdata: {plant['name']}: duplicate timestamps")
    if np.any(t % step):
        sys.exit(f"scripts/pvdata: {plant['name']}: timestamps off the {step} s grid")

    source_max_w = float(power.max())
    peak = plant["peak_power_w"]
    if peak == "max*1.1" or source_max_w > peak:
        peak = int(round(source_max_w * 1.1 / 100.0)) * 100

    start = choose_window(t, step, plant["years"])
    shift = int(WINDOW_START.timestamp()) - start
    assert shift % DAY == 0
    sel = (t >= start) & (t < start + WINDOW_DAYS * DAY)
    ts, ps = t[sel], power[sel]

    wh = np.round(np.clip(ps, 0.0, None) * (SLOT / 3600.0), 3) + 0.0
    per_value = step // SLOT
    slots = (ts[:, None] + np.arange(per_value)[None, :] * SLOT).ravel() + shift
    wh = np.repeat(wh, per_value)
    lo, hi = int(WINDOW_START.timestamp()), int(WINDOW_END.timestamp())
    keep = (slots >= lo) & (slots < hi)
    slots, wh = slots[keep], wh[keep]
    assert np.all(slots % SLOT == 0) and np.all(np.diff(slots) > 0) and np.all(wh >= 0)

    file = f"{plant['name']}.csv"
    with open(os.path.join(tmp, file), "w") as f:
        f.write("t,wh\n")
        f.writelines(f"{s},{fmt(w)}\n" for s, w in zip(slots.tolist(), wh.tolist()))

    first_local = pd.Timestamp(int(t.min()), unit="s", tz="UTC").tz_convert(plant["time_zone"])
    info = WHEELS[plant["package"]]
    entry = {
        "name": plant["name"],
        "file": file,
        "source": f"{plant['package']} {info['wheel'].split('-')[1]} (PyPI) {plant['member']}: "
                  f"{plant['describe']}",
        "license": licence,
        "time_zone": plant["time_zone"],
        "peak_power_w": peak,
        "latitude": plant["latitude"],
        "longitude": plant["longitude"],
        "shift_days": shift // DAY,
        "source_first": iso(ts.min()),
        "source_last": iso(ts.max()),
        "slots": int(len(slots)),
        "energy_wh_total": round(float(wh.sum()), 3),
        # The real commissioning date is not published for any of these systems: the local date
        # of the first value in the source file (unshifted) stands in for it.
        "installation_date": first_local.strftime("%Y-%m-%d"),
    }
    days = len(np.unique(slots // DAY))
    return entry, days, float(wh.max() * 3600 / SLOT) if len(wh) else 0.0


def main():
    dir_, version = sys.argv[1], int(sys.argv[2])
    paths = extract(dir_)
    out = os.path.join(dir_, "out")
    tmp = f"{out}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    plants, rows = [], []
    for plant in PLANTS:
        entry, days, max_w = build(plant, paths[plant["member"]],
                                   WHEELS[plant["package"]]["license"], tmp)
        plants.append(entry)
        rows.append((entry["name"], entry["slots"], days, entry["energy_wh_total"] / 1000, max_w,
                     entry["peak_power_w"], entry["shift_days"], entry["source_first"][:10]))
    manifest = {
        "version": version,
        "window_start": WINDOW_START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_end": WINDOW_END.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "plants": plants,
    }
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    old = f"{out}.old-{os.getpid()}"
    if os.path.exists(out):
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)

    print(f"scripts/pvdata: wrote {out} (version {version}, "
          f"{manifest['window_start']} .. {manifest['window_end']})")
    print(f"{'plant':<16}{'slots':>7}{'days':>6}{'kWh':>9}{'max W':>8}{'peak W':>8}"
          f"{'shift d':>9}  source from")
    for name, slots, days, kwh, max_w, peak, shift, first in rows:
        print(f"{name:<16}{slots:>7}{days:>6}{kwh:>9.1f}{max_w:>8.0f}{peak:>8}{shift:>9}  {first}")


if __name__ == "__main__":
    main()
