"""The official MCP Python SDK's client (`mcp` on PyPI) against a Fabric MCP server.

    python mcp_client.py stdio /path/to/division-mcp
    python mcp_client.py http http://127.0.0.1:3000/mcp

Connects twice, once per era of the protocol ("auto": `server/discover` and
2026-07-28; "legacy": the `initialize` handshake), lists the tools and calls them as a
user's agent would, and prints one JSON report per connection on stdout for the Rust
test to check. Anything the client raises is reported, not hidden.
"""

import asyncio
import json
import sys

from mcp import Client, StdioServerParameters


def dump(value):
    return value.model_dump(mode="json", by_alias=True, exclude_none=True)


async def session(server, mode):
    progress = []
    logs = []

    async def on_progress(progress_value, total, message):
        progress.append({"progress": progress_value, "message": message})

    async def on_log(params):
        logs.append(dump(params))

    report = {"mode": mode}
    async with Client(server, mode=mode, logging_callback=on_log, log_level="info") as client:
        report["protocolVersion"] = client.protocol_version
        report["serverInfo"] = dump(client.server_info) if client.server_info else None
        if mode == "legacy":
            await client.set_logging_level("info")
        report["tools"] = dump(await client.list_tools())["tools"]
        calls = {
            "coerced": ("division", {"numerator": "14", "denominator": 7}),
            "zero": ("division", {"denominator": 0}),
            "missing": ("greet", {}),
            "greet": ("greet", {"name": "Ada", "also": ["Grace"]}),
        }
        for key, (name, arguments) in calls.items():
            result = await client.call_tool(name, arguments, progress_callback=on_progress)
            report[key] = dump(result)
        try:
            await client.call_tool("nonesuch", {})
            report["unknown"] = "no error"
        except Exception as err:  # the JSON-RPC error the server answered with
            report["unknown"] = f"{type(err).__name__}: {err}"
    report["progress"] = progress
    report["logs"] = logs
    return report


async def main():
    kind, target = sys.argv[1], sys.argv[2]
    server = StdioServerParameters(command=target) if kind == "stdio" else target
    reports = [await session(server, mode) for mode in ("auto", "legacy")]
    print(json.dumps(reports))


asyncio.run(main())
