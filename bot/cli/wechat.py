"""WeChat and WeCom set-up: `frontdesk wechat-menu` (the official account's menu) and
`frontdesk wecom-group` (where a department's task cards go in WeCom)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli.common import community_by_code, fail, opened, read_settings, run_work

commands = typer.Typer()


@commands.command("wechat-menu")
def wechat_menu(
    show: Annotated[
        bool, typer.Option("--show", help="Print the menu's JSON instead of publishing it.")
    ] = False,
) -> None:
    """Publish the official account's menu: 报修 | 服务 (投诉, 缴费, 放行) | 我的."""
    import json

    import aiohttp

    from bot.channels import wechat
    from bot.channels.wechat_api import WeChatAPIError
    from handlers.core.i18n import Catalogs

    settings = read_settings()
    if show:
        catalogs = Catalogs.load(settings.default_locale, settings.tz)
        menu = wechat.menu_definition(catalogs, settings.default_locale)
        typer.echo(json.dumps(menu, ensure_ascii=False, indent=2))
        return
    if not settings.wechat_appid or settings.wechat_secret is None:
        raise fail("FRONTDESK_WECHAT_APPID and FRONTDESK_WECHAT_SECRET are needed to publish")

    async def work() -> dict[str, Any]:
        try:
            async with opened(settings) as app:
                return await wechat.publish_menu(app)
        except WeChatAPIError as exc:
            raise fail(f"WeChat refused the menu: {exc}", code=1) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise fail(f"could not reach WeChat: {type(exc).__name__}: {exc}", code=1) from None

    typer.echo(f"menu published: {wechat.describe_menu(run_work(work))}")


@commands.command("wecom-group")
def wecom_group(
    community: Annotated[str, typer.Option(help="Community code, e.g. XFL.")],
    department: Annotated[
        str, typer.Option(help="repair, security, cleaning, greening or service.")
    ],
    to: Annotated[
        str,
        typer.Option(help="party:<department id>, tag:<tag id>, chat:<app chat id> or user:<id>."),
    ],
) -> None:
    """Send a department's task cards to a WeCom department, tag or app group chat."""
    from storage.models import Department

    if department not in {d.value for d in Department}:
        raise fail(f"--department must be one of {', '.join(d.value for d in Department)}")
    settings = read_settings()

    async def work() -> str:
        from bot.channels.wecom import address, bind_department

        if address(to) is None:
            raise fail("--to must be party:<id>, tag:<id>, chat:<id> or user:<id>")
        async with opened(settings) as app:
            async with app.db.transaction() as session:
                found = await community_by_code(session, community)
                await bind_department(
                    session, found, department, to, actor="cli", now=app.clock.now()
                )
                return f"{community} {department}: task cards go to WeCom {to}"

    typer.echo(run_work(work))
