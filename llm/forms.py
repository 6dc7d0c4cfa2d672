"""The admins' forms over model connections and project budgets: they turn what a browser posts into the arguments
of llm.services.connections, which decides what is valid (ranges, the endpoint's address), so that every refusal
comes from one place and lands on the input it names."""

from typing import Any

from django import forms

from llm.models import ModelBudget, ModelConnection

# The parameters a person sets on the page; others (seed, stop, penalties) are the API's, and kept as they are.
PAGE_PARAMETERS = ("temperature", "top_p", "max_tokens")


class ModelConnectionForm(forms.Form):
    """Add a connection, or change one (`editing`: an empty key then keeps the stored one)."""

    name = forms.CharField(max_length=100, help_text="How schemas and pages name it, e.g. reviewer-70b.")
    base_url = forms.CharField(
        label="Base URL",
        max_length=500,
        help_text="The OpenAI-compatible API root, e.g. https://models.lab.internal/v1.",
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    model = forms.CharField(max_length=200, help_text="The server's name for the model.")
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=False,
        max_length=4096,
        help_text="Sent as the bearer token; stored encrypted and never shown again.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    remove_api_key = forms.BooleanField(label="Remove the stored API key", required=False)
    temperature = forms.FloatField(required=False, widget=forms.NumberInput(attrs={"step": "0.05"}))
    top_p = forms.FloatField(label="Top p", required=False, widget=forms.NumberInput(attrs={"step": "0.05"}))
    max_tokens = forms.IntegerField(label="Max tokens", required=False)
    timeout_seconds = forms.IntegerField(
        label="Timeout (seconds)", initial=60, help_text="Longest wait for each piece of a reply."
    )

    def __init__(self, *args: Any, editing: ModelConnection | None = None, **kwargs: Any) -> None:
        if editing is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": editing.name,
                "base_url": editing.base_url,
                "model": editing.model,
                "timeout_seconds": editing.timeout_seconds,
                **{key: (editing.parameters or {}).get(key) for key in PAGE_PARAMETERS},
            }
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing is None:
            del self.fields["remove_api_key"]
        else:
            self.fields["api_key"].help_text = (
                "Empty keeps the stored key." if editing.api_key_sealed else "No key is stored; empty sends none."
            )
            if not editing.api_key_sealed:
                del self.fields["remove_api_key"]
        for key in PAGE_PARAMETERS:
            self.fields[key].help_text = "Empty: the server's default."

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as the service takes it: the parameters as one object, the key only when it changes."""
        data = self.cleaned_data
        kept = (self.editing.parameters or {}) if self.editing else {}
        parameters = {key: value for key, value in kept.items() if key not in PAGE_PARAMETERS}
        parameters.update({key: data[key] for key in PAGE_PARAMETERS if data.get(key) is not None})
        fields: dict[str, Any] = {
            "name": data["name"],
            "base_url": data["base_url"],
            "model": data["model"],
            "parameters": parameters,
            "timeout_seconds": data["timeout_seconds"],
        }
        if data.get("remove_api_key"):
            fields["api_key"] = ""
        elif data.get("api_key"):
            fields["api_key"] = data["api_key"]
        return fields


class ModelBudgetForm(forms.Form):
    """A project's token allowance (empty: none) and its limit of calls at once."""

    token_limit = forms.IntegerField(
        label="Token limit", required=False, help_text="Tokens the project may spend in all; empty for no limit."
    )
    max_concurrent = forms.IntegerField(label="Calls at once", help_text="Model calls the project may run at once.")

    @classmethod
    def for_budget(cls, budget: ModelBudget, data: Any = None) -> "ModelBudgetForm":
        return cls(data, initial={"token_limit": budget.token_limit, "max_concurrent": budget.max_concurrent})
