"""The monitoring desk's Grafana dashboards, as code.

Each dashboard is a module that builds it with Grafana's typed builders (`fleet`, `resident`,
`service_levels`, `devices`); `build` writes them to the committed JSON under `json/`, which
Grafana loads through `provisioning/` or which `push` sends to a Grafana's HTTP API. Every
query is InfluxQL against the hub's InfluxDB (docs/data-model.md).
"""
