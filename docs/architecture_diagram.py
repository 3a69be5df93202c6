"""Draw the deployed system as docs/img/architecture.svg (and docs/img/architecture.png with ``--png``).

    python docs/architecture_diagram.py          # rewrite the SVG
    python docs/architecture_diagram.py --png    # also render the PNG with headless Chromium (2x scale)
    python docs/architecture_diagram.py --check  # exit 1 when the committed SVG differs from what this draws

Boxes and arrows are laid out by hand on a 1000-pixel-wide canvas. Each box names the Bicep resource types it stands
for (``Box.types``); tests/unit/test_architecture_picture.py checks those against infra/ in both directions, and
checks that the committed SVG is what this script draws now.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
SVG_PATH = HERE / "img" / "architecture.svg"
PNG_PATH = HERE / "img" / "architecture.png"

WIDTH = 1000
HEIGHT = 890
FONT = "'Segoe UI', Helvetica, Arial, 'Liberation Sans', sans-serif"
TITLE_SIZE = 12.5
TEXT_SIZE = 11.0
SMALL_SIZE = 10.5
PAD = 8.0
LINE = 14.0

# fill, stroke of each kind of box
STYLES: dict[str, tuple[str, str]] = {
    "external": ("#f3f4f6", "#7d8590"),
    "events": ("#fff4e0", "#c07f00"),
    "compute": ("#e7f5ea", "#2f8a3e"),
    "storage": ("#e5f0fb", "#2b6cb0"),
    "network": ("#e3f6f5", "#178080"),
    "identity": ("#f0eafa", "#6f4bb2"),
    "monitoring": ("#fcebef", "#b0405f"),
    "cost": ("#fdf7d8", "#9a7d00"),
}
INK = "#1f2328"
SOFT_INK = "#3d444d"


@dataclass(frozen=True)
class Box:
    """One drawn box: where it is, what it says, and the Bicep resource types it stands for."""

    id: str
    x: float
    y: float
    w: float
    h: float
    title: str
    lines: tuple[str, ...]
    style: str
    types: tuple[str, ...]
    group: bool = False  # a container of other boxes: dashed outline, its title and lines in its top row
    header: tuple[tuple[float, float, str], ...] = ()  # a group's title and lines: x, baseline y, anchor each
    external: bool = False  # not an Azure resource (uploaders, players)

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class Arrow:
    """A polyline from its first point to its last (arrowhead there), with an optional label."""

    points: tuple[tuple[float, float], ...]
    label: str = ""
    label_at: tuple[float, float] | None = None
    anchor: str = "start"
    dashed: bool = False


MEDIA_Y, MEDIA_H = 296.0, 110.0
AKS_Y, AKS_H = 450.0, 130.0
SUB_TOP = MEDIA_Y + 30
SUB_H = 68.0

BOXES: tuple[Box, ...] = (
    # the operators' way: the dashboard, whose /api is the Function app
    Box("operators", 20, 64, 100, 70, "Operators", ("browser,", "signed in"), "external", (), external=True),
    Box("dashboard", 420, 64, 230, 70, "Static Web App (dashboard)",
        ("Entra ID sign-in, app role admin", "/api/* → the Function app"), "network",
        ("Microsoft.Web/staticSites", "Microsoft.Web/staticSites/linkedBackends")),
    # the job's way: upload, event, Function, queue
    Box("uploader", 20, 164, 100, 86, "Uploader", ("client or", "pipeline", "(Entra ID)"), "external", (),
        external=True),
    Box("eventgrid", 160, 164, 210, 86, "Event Grid system topic",
        ("on the media account", "subscription: BlobCreated", "in uploads/ only"), "events",
        ("Microsoft.EventGrid/systemTopics", "Microsoft.EventGrid/systemTopics/eventSubscriptions")),
    Box("function", 420, 164, 230, 86, "Function app",
        ("enqueue_transcode (blob trigger)", "App Service plan, staging slot", "creates the record, enqueues"),
        "compute",
        ("Microsoft.Web/sites", "Microsoft.Web/sites/slots", "Microsoft.Web/serverfarms")),
    Box("host", 700, 164, 280, 86, "Storage account (Functions host)",
        ("AzureWebJobsStorage: host locks, keys,", "the blob trigger's queue, one per slot"), "storage",
        ("Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/queueServices/queues")),
    # the media account and what it holds
    Box("media", 20, MEDIA_Y, 630, MEDIA_H, "Storage account (media)", (), "storage",
        ("Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/managementPolicies",
         "Microsoft.Network/privateEndpoints"), group=True, header=((638, MEDIA_Y + 19, "end"),)),
    Box("uploads", 34, SUB_TOP, 122, SUB_H, "uploads", ("blob container:", "the sources"), "storage",
        ("Microsoft.Storage/storageAccounts/blobServices/containers",)),
    Box("deadletter", 168, SUB_TOP, 150, SUB_H, "dead letters", ("blob container", "eventgrid-deadletter"), "storage",
        ("Microsoft.Storage/storageAccounts/blobServices/containers",)),
    Box("queue", 330, SUB_TOP, 168, SUB_H, "transcode-jobs", ("Storage queue,", "+ transcode-jobs-poison"),
        "storage", ("Microsoft.Storage/storageAccounts/queueServices/queues",)),
    Box("outputs", 510, SUB_TOP, 126, SUB_H, "outputs", ("HLS + DASH,", "cool → archive"), "storage",
        ("Microsoft.Storage/storageAccounts/blobServices/containers",)),
    Box("frontdoor", 700, SUB_TOP, 140, SUB_H, "Front Door", ("endpoint, route", "/ → /outputs/"), "network",
        ("Microsoft.Cdn/profiles", "Microsoft.Cdn/profiles/afdEndpoints", "Microsoft.Cdn/profiles/originGroups",
         "Microsoft.Cdn/profiles/originGroups/origins", "Microsoft.Cdn/profiles/afdEndpoints/routes")),
    Box("players", 870, SUB_TOP, 110, SUB_H, "Players", ("HLS / DASH", "over HTTPS"), "external", (), external=True),
    # the cluster
    Box("aks", 20, AKS_Y, 630, AKS_H, "AKS cluster", ("Entra ID + Azure RBAC · OIDC issuer",), "compute",
        ("Microsoft.ContainerService/managedClusters",), group=True,
        header=((32, AKS_Y + 19, "start"), (162, AKS_Y + 19, "start"))),
    Box("keda", 34, AKS_Y + 32, 166, 86, "System pool",
        ("KEDA add-on: a", "ScaledObject per slot", "scales the workers", "on the queue's length"), "compute",
        ("Microsoft.ContainerService/managedClusters",)),
    Box("gpu", 236, AKS_Y + 32, 400, 86, "GPU pool (NVENC), scales from zero",
        ("workers in blue/green slots: one live, the other at 0",), "compute",
        ("Microsoft.ContainerService/managedClusters",)),
    Box("records", 700, AKS_Y + 32, 280, 86, "Job records (table jobs)",
        ("dev, staging: Azure Table (media account)", "production: Cosmos DB for Table",
         "written by the Function and the workers"), "storage",
        ("Microsoft.Storage/storageAccounts/tableServices/tables", "Microsoft.DocumentDB/databaseAccounts",
         "Microsoft.DocumentDB/databaseAccounts/tables")),
    # beside the cluster
    Box("acr", 20, 620, 180, 86, "Container registry", ("worker images", "kubelet pulls (AcrPull)",
                                                        "untagged ones expire"), "compute",
        ("Microsoft.ContainerRegistry/registries",)),
    Box("identities", 236, 620, 414, 86, "Managed identities (user-assigned)",
        ("worker: workload identity, federated with the", "ServiceAccounts transcoder-blue and transcoder-green",
         "KEDA operator: workload identity · Function: both slots",
         "Entra ID data roles on blobs, queues, table"), "identity",
        ("Microsoft.ManagedIdentity/userAssignedIdentities",
         "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
         "Microsoft.Authorization/roleAssignments", "Microsoft.DocumentDB/databaseAccounts/tableRoleAssignments")),
    Box("cost", 670, 620, 310, 86, "Budget (resource group)",
        ("mail and action group at 80% actual and", "100% forecast spend",
         "Cost anomaly alert (subscription): daily"), "cost",
        ("Microsoft.Consumption/budgets", "Microsoft.CostManagement/scheduledActions")),
    # monitoring
    Box("prometheus", 20, 750, 220, 86, "Azure Monitor workspace",
        ("managed Prometheus", "data collection endpoint,", "rules and associations"), "monitoring",
        ("Microsoft.Monitor/accounts", "Microsoft.Insights/dataCollectionEndpoints",
         "Microsoft.Insights/dataCollectionRules", "Microsoft.Insights/dataCollectionRuleAssociations")),
    Box("rules", 270, 750, 210, 86, "Prometheus rule groups",
        ("the chart's alert rules", "(prometheus-rules.yaml)", "on the cluster's metrics"), "monitoring",
        ("Microsoft.AlertsManagement/prometheusRuleGroups",)),
    Box("actiongroup", 510, 750, 190, 86, "Action group", ("emails the operations", "address"), "monitoring",
        ("Microsoft.Insights/actionGroups",)),
    Box("logs", 730, 750, 250, 86, "Log Analytics workspace",
        ("diagnostics of every resource,", "Container insights", "+ Application Insights (Function)"),
        "monitoring",
        ("Microsoft.OperationalInsights/workspaces", "Microsoft.Insights/components",
         "Microsoft.Insights/diagnosticSettings")),
)

# the two slots drawn inside the GPU pool (part of its box: no types of their own)
SLOTS = (
    (252.0, "transcoder-blue", "worker Deployment"),
    (446.0, "transcoder-green", "worker Deployment"),
)
SLOT_Y, SLOT_W, SLOT_H = AKS_Y + 74, 176.0, 38.0


def _box(box_id: str) -> Box:
    return next(b for b in BOXES if b.id == box_id)


def _arrows() -> tuple[Arrow, ...]:
    ops, swa = _box("operators"), _box("dashboard")
    up, eg, fn, host = _box("uploader"), _box("eventgrid"), _box("function"), _box("host")
    uploads, dead, queue, outputs = _box("uploads"), _box("deadletter"), _box("queue"), _box("outputs")
    fd, players, aks, keda, gpu = _box("frontdoor"), _box("players"), _box("aks"), _box("keda"), _box("gpu")
    records, acr, ids, cost = _box("records"), _box("acr"), _box("identities"), _box("cost")
    prom, rules, ag = _box("prometheus"), _box("rules"), _box("actiongroup")
    mid1 = eg.y + eg.h / 2
    sub_mid = uploads.y + uploads.h / 2
    gpu_mid = gpu.y + gpu.h / 2
    gap_y = (uploads.bottom + aks.y) / 2 + 4
    top = ops.y + ops.h / 2
    return (
        Arrow(((ops.right, top), (swa.x, top)), "HTTPS, Entra ID sign-in", ((ops.right + swa.x) / 2, top - 6),
              "middle"),
        Arrow(((535, swa.bottom), (535, fn.y)), "/api (linked backend)", (541, (swa.bottom + fn.y) / 2 + 4)),
        Arrow(((60, up.bottom), (60, uploads.y)), "upload", (66, 284)),
        Arrow(((130, uploads.y), (130, 272), (200, 272), (200, eg.bottom)), "BlobCreated", (206, 266)),
        Arrow(((300, eg.bottom), (300, dead.y)), "undelivered", (306, 284), dashed=True),
        Arrow(((eg.right, mid1), (fn.x, mid1)), "webhook", ((eg.right + fn.x) / 2, mid1 - 6), "middle"),
        Arrow(((460, fn.bottom), (460, queue.y)), "enqueue", (466, 284)),
        Arrow(((fn.right, mid1), (host.x, mid1))),
        Arrow(((outputs.right, sub_mid), (fd.x, sub_mid)), "origin", ((outputs.right + fd.x) / 2 + 7, sub_mid - 6),
              "middle"),
        Arrow(((fd.right, sub_mid), (players.x, sub_mid))),
        Arrow(((360, queue.bottom), (360, gap_y), (150, gap_y), (150, keda.y)), "queue length", (204, gap_y - 5),
              dashed=True),
        Arrow(((keda.right, gpu_mid), (gpu.x, gpu_mid)), dashed=True),
        Arrow(((440, queue.bottom), (440, gpu.y)), "lease", (446, gap_y + 4)),
        Arrow(((580, gpu.y), (580, outputs.bottom)), "package", (574, gap_y + 4), "end"),
        Arrow(((gpu.right, gpu_mid + 10), (records.x, gpu_mid + 10)), "status", ((gpu.right + records.x) / 2 + 7,
                                                                                 gpu_mid + 4), "middle"),
        Arrow(((110, acr.y), (110, aks.bottom)), "images", (116, 604)),
        Arrow(((440, ids.y), (440, aks.bottom)), "OIDC federation", (446, 604), dashed=True),
        Arrow(((218, aks.bottom), (218, prom.y)), "metrics", (224, 734), dashed=True),
        Arrow(((prom.right, prom.y + 43), (rules.x, prom.y + 43)), dashed=True),
        Arrow(((rules.right, rules.y + 43), (ag.x, ag.y + 43)), dashed=True),
        Arrow(((685, cost.bottom), (685, ag.y)), dashed=True),
    )


ARROWS = _arrows()


def text_width(text: str, size: float, bold: bool = False) -> float:
    """A generous estimate of the rendered width (wider than Arial and Segoe UI), to keep labels inside boxes."""
    return len(text) * size * (0.6 if bold else 0.56)


Rect = tuple[float, float, float, float]  # left, top, right, bottom


def _span(x: float, y: float, text: str, size: float, anchor: str, bold: bool = False) -> Rect:
    w = text_width(text, size, bold)
    left = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
    return left, y - size * 0.8, left + w, y + size * 0.25


def _segments(a: Arrow) -> list[Rect]:
    return [(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
            for (x1, y1), (x2, y2) in zip(a.points, a.points[1:], strict=False)]


def _meets(r: Rect, s: Rect) -> bool:
    return r[0] <= s[2] and s[0] <= r[2] and r[1] <= s[3] and s[1] <= r[3]


def layout_problems() -> list[str]:
    """Text estimated wider than its box, more lines than a box holds, an arrow through a group's title or a label,
    or a label over a box."""
    problems = []
    for b in BOXES:
        room = b.w - 2 * PAD
        texts = [(b.title, TITLE_SIZE, True), *((line, TEXT_SIZE, False) for line in b.lines)]
        if b.group:
            if len(b.header) != len(texts):
                problems.append(f"{b.id}: {len(texts)} texts but {len(b.header)} header positions")
            for (text, size, bold), (x, y, anchor) in zip(texts, b.header, strict=False):
                r = _span(x, y, text, size, anchor, bold)
                if r[0] < b.x + PAD / 2 or r[2] > b.right - PAD / 2:
                    problems.append(f"{b.id}: {text!r} leaves its group")
                problems += [f"{b.id}: an arrow crosses {text!r}" for a in ARROWS
                             if any(_meets(r, s) for s in _segments(a))]
            continue
        for text, size, bold in texts:
            if text_width(text, size, bold) > room:
                problems.append(f"{b.id}: {text!r} needs {text_width(text, size, bold):.0f} of {room:.0f} px")
        if b.id != "gpu" and 20 + LINE * len(b.lines) > b.h:
            problems.append(f"{b.id}: {len(b.lines) + 1} lines do not fit {b.h:.0f} px")
    for _, name, role in SLOTS:
        for text, size, bold in ((name, TEXT_SIZE, True), (role, SMALL_SIZE, False)):
            if text_width(text, size, bold) > SLOT_W - 2 * PAD:
                problems.append(f"slot {name}: {text!r} does not fit")
    for a in ARROWS:
        if not (a.label and a.label_at):
            continue
        r = _span(a.label_at[0], a.label_at[1], a.label, SMALL_SIZE, a.anchor)
        problems += [f"label {a.label!r} lies over {b.id}" for b in BOXES
                     if not b.group and _meets(r, (b.x, b.y, b.right, b.bottom))]
        problems += [f"an arrow crosses the label {a.label!r}" for other in ARROWS
                     if any(_meets(r, s) for s in _segments(other))]
    return problems


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, size: float, *, bold: bool = False, anchor: str = "start",
          fill: str = INK, halo: bool = False) -> str:
    attrs = [f'x="{_num(x)}"', f'y="{_num(y)}"', f'font-size="{_num(size)}"']
    if bold:
        attrs.append('font-weight="600"')
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if fill != INK:
        attrs.append(f'fill="{fill}"')
    if halo:
        attrs.append('class="halo"')
    return f"<text {' '.join(attrs)}>{escape(text)}</text>"


def _draw_box(b: Box) -> list[str]:
    fill, stroke = STYLES[b.style]
    out = [f'<g id="box-{b.id}">']
    if b.group:
        out.append(f'<rect x="{_num(b.x)}" y="{_num(b.y)}" width="{_num(b.w)}" height="{_num(b.h)}" rx="8" '
                   f'fill="{fill}" fill-opacity="0.45" stroke="{stroke}" stroke-width="1.4" stroke-dasharray="6 4"/>')
        texts = [(b.title, TITLE_SIZE, True), *((line, TEXT_SIZE, False) for line in b.lines)]
        for (text, size, bold), (x, y, anchor) in zip(texts, b.header, strict=True):
            out.append(_text(x, y, text, size, bold=bold, anchor=anchor, fill=INK if bold else SOFT_INK))
    else:
        out.append(f'<rect x="{_num(b.x)}" y="{_num(b.y)}" width="{_num(b.w)}" height="{_num(b.h)}" rx="6" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="1.4"/>')
        cx = b.x + b.w / 2
        top = b.y + (b.h - (LINE + 3 + LINE * len(b.lines))) / 2 + 11 if b.id != "gpu" else b.y + 17
        out.append(_text(cx, top, b.title, TITLE_SIZE, bold=True, anchor="middle"))
        for i, line in enumerate(b.lines):
            out.append(_text(cx, top + LINE + 3 + LINE * i, line, TEXT_SIZE, anchor="middle", fill=SOFT_INK))
        if b.id == "gpu":
            for x, name, role in SLOTS:
                fill_slot = "#dbeafe" if "blue" in name else "#dcfce7"
                out.append(f'<rect x="{_num(x)}" y="{_num(SLOT_Y)}" width="{_num(SLOT_W)}" height="{_num(SLOT_H)}" '
                           f'rx="5" fill="{fill_slot}" stroke="{stroke}" stroke-width="1"/>')
                out.append(_text(x + SLOT_W / 2, SLOT_Y + 16, name, TEXT_SIZE, bold=True, anchor="middle"))
                out.append(_text(x + SLOT_W / 2, SLOT_Y + 30, role, SMALL_SIZE, anchor="middle", fill=SOFT_INK))
    out.append("</g>")
    return out


def _draw_arrow(a: Arrow) -> list[str]:
    d = " ".join(("M" if i == 0 else "L") + f"{_num(x)} {_num(y)}" for i, (x, y) in enumerate(a.points))
    kind = "dashed" if a.dashed else "solid"
    out = [f'<path class="{kind}" d="{d}" marker-end="url(#head-{kind})"/>']
    if a.label and a.label_at is not None:
        out.append(_text(a.label_at[0], a.label_at[1], a.label, SMALL_SIZE, anchor=a.anchor, fill=SOFT_INK,
                         halo=True))
    return out


def render() -> str:
    """The whole SVG document, deterministic (same input, same bytes)."""
    problems = layout_problems()
    if problems:
        raise ValueError("the layout does not hold: " + "; ".join(problems))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{escape(FONT, {chr(34): "&quot;"})}" role="img" '
        'aria-labelledby="title desc">',
        '<title id="title">azure-gpu-transcoder: the deployed system</title>',
        '<desc id="desc">Operators use the dashboard, a static web app whose /api is the Function app. Uploads to '
        "the media storage account raise BlobCreated events that Event Grid delivers to "
        "the Function app, which enqueues a job on the transcode-jobs queue; KEDA scales GPU workers on AKS on the "
        "queue's length; the workers write packages to the outputs container, which Front Door serves to players. "
        "Beside them: job records, the container registry, managed identities, monitoring, alerts and cost "
        "controls.</desc>",
        "<defs>",
        '<marker id="head-solid" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#24292f"/></marker>',
        '<marker id="head-dashed" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#6e7781"/></marker>',
        "<style>",
        ".solid { fill: none; stroke: #24292f; stroke-width: 1.6; }",
        ".dashed { fill: none; stroke: #6e7781; stroke-width: 1.4; stroke-dasharray: 5 4; }",
        ".halo { paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round; }",
        "</style>",
        "</defs>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(20, 30, "azure-gpu-transcoder: one regional stack (infra/main.bicep)", 16, bold=True),
        _text(20, 48, "Azure resource kinds and their roles, as the Bicep templates deploy them", TEXT_SIZE,
              fill=SOFT_INK),
        '<g id="legend">',
        '<path class="solid" d="M700 26 L740 26" marker-end="url(#head-solid)"/>',
        _text(748, 30, "jobs and media", TEXT_SIZE, fill=SOFT_INK),
        '<path class="dashed" d="M840 26 L880 26" marker-end="url(#head-dashed)"/>',
        _text(888, 30, "control, telemetry", TEXT_SIZE, fill=SOFT_INK),
        "</g>",
    ]
    for b in BOXES:
        out.extend(_draw_box(b))
    for a in ARROWS:
        out.extend(_draw_arrow(a))
    out.append(_text(20, HEIGHT - 22, "Every resource sends its diagnostics to the Log Analytics workspace. The "
                     "storage accounts and Cosmos DB accept Entra ID only (no shared keys); the media account can have "
                     "private endpoints.", TEXT_SIZE,
                     fill=SOFT_INK))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_png(svg: Path, png: Path) -> None:
    """Screenshot the SVG with headless Chromium at twice its size."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise SystemExit("no chromium on PATH: the PNG needs headless Chromium")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text('<!doctype html><html><body style="margin:0;background:#fff">'
                        f'<img src="{svg.resolve().as_uri()}" width="{WIDTH}" height="{HEIGHT}" '
                        'style="display:block"></body></html>')
        shot = Path(tmp) / "shot.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--allow-file-access-from-files", "--force-device-scale-factor=2",
                        f"--user-data-dir={tmp}/profile", f"--window-size={WIDTH},{HEIGHT}",
                        f"--screenshot={shot}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        png.write_bytes(shot.read_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--png", action="store_true", help="also render docs/img/architecture.png")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed SVG is out of date")
    args = parser.parse_args(argv)
    svg = render()
    if args.check:
        current = SVG_PATH.read_text(encoding="utf-8") if SVG_PATH.exists() else ""
        if current != svg:
            print(f"{SVG_PATH} is out of date: run python docs/architecture_diagram.py", file=sys.stderr)
            return 1
        return 0
    SVG_PATH.parent.mkdir(parents=True, exist_ok=True)
    SVG_PATH.write_text(svg, encoding="utf-8")
    print(f"wrote {SVG_PATH}")
    if args.png:
        render_png(SVG_PATH, PNG_PATH)
        print(f"wrote {PNG_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
