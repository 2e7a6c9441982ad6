"""``idflow serve``: run the web app with uvicorn (imports stay lazy so the CLI starts fast)."""

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Adres om op te luisteren"),
    port: int = typer.Option(8000, help="Poort"),
) -> None:
    """Serve the web app for recruiters and P&O (pages and JSON API)."""
    import uvicorn

    from web.app import create_app

    typer.echo(f"idflow web: http://{host}:{port}/ (stoppen met Ctrl+C)", err=True)
    uvicorn.run(create_app(), host=host, port=port, proxy_headers=True, log_level="info")
