from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled
from openai import AsyncOpenAI

set_default_openai_client(AsyncOpenAI(base_url="http://127.0.0.1:8080/v1", api_key="unused"))
set_tracing_disabled(True)  # traces would go to OpenAI's servers


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


agent = Agent(name="forecaster", instructions="Answer with the tool.", tools=[get_weather])  # the SDK's default model
result = Runner.run_sync(agent, "What is the weather in Paris?")
print(result.final_output)
