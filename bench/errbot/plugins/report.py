"""The peer anchor's one-command plugin: ``!report TEXT`` is answered with a thank-you."""

from errbot import BotPlugin, botcmd


class Report(BotPlugin):
    """Builds the same reply text as the ptb floor's handler."""

    @botcmd
    def report(self, msg, args):
        return f"Gracias, {msg.frm.person}. Hemos recibido tu aviso: «{args}»"
