from ime_agent.cli import main

main()
