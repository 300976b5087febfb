"""``suite demo DIR``: build a small real project and show what suite does."""

import click


@click.command(short_help='Build an example project and walk through suite.')
@click.argument("directory", type=click.Path(file_okay=False))
def demo(directory):
    """Build a small example project in DIRECTORY and walk through suite's features.

    
    Examples:
      suite demo /tmp/suite-demo
    """
    from suite.demo import run_demo

    run_demo(directory, click.echo)
